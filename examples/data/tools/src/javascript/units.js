// Unit conversions for the weather widget.

/**
 * Convert a temperature between Celsius, Fahrenheit and Kelvin.
 * @param {number} value - the temperature to convert
 * @param {'C'|'F'|'K'} from - unit of the value
 * @param {'C'|'F'|'K'} [to='C'] - unit wanted
 * @returns {number} the converted temperature, rounded to two decimals
 */
function convertTemperature(value, from, to = 'C') {
  const kelvin = from === 'C' ? value + 273.15 : from === 'F' ? (value - 32) * 5 / 9 + 273.15 : value;
  const out = to === 'C' ? kelvin - 273.15 : to === 'F' ? (kelvin - 273.15) * 9 / 5 + 32 : kelvin;
  return Math.round(out * 100) / 100;
}

/**
 * Wind chill index felt at a temperature and wind speed.
 * @param {number} tempC - air temperature in Celsius
 * @param {number} windKmh - wind speed in km/h
 * @returns {number} the felt temperature in Celsius
 */
const windChill = (tempC, windKmh) => {
  const v = Math.pow(windKmh, 0.16);
  return Math.round((13.12 + 0.6215 * tempC - 11.37 * v + 0.3965 * tempC * v) * 10) / 10;
};

/**
 * Average of a list of readings.
 * @param {number[]} readings - the values
 * @param {number} [digits=1] - decimals of the result
 */
function average(readings, digits = 1) {
  const sum = readings.reduce((a, b) => a + b, 0);
  return Number((sum / readings.length).toFixed(digits));
}

/**
 * Fetch the current forecast for a city (needs the network: never runnable).
 * @param {string} city - the city name
 */
function forecast(city) {
  return fetch(`https://example.invalid/forecast?city=${city}`);
}

class Station {
  /**
   * Record a reading at this station.
   * @param {number} value - the reading
   * @param {string} [unit] - its unit
   */
  record(value, unit) {
    this.last = { value, unit };
  }
}
