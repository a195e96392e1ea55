import java.util.ArrayList;
import java.util.List;

/** A small warehouse inventory. */
public class Inventory {
    /** Storage zones of the warehouse. */
    public enum Zone { COLD, DRY, HAZARDOUS }

    private final List<String> items = new ArrayList<>();

    /**
     * Add stock of an item to a zone.
     *
     * @param sku the stock-keeping unit code
     * @param quantity how many units arrive
     * @param zone where to store them
     * @return the new number of units of this item
     */
    public int addStock(String sku, int quantity, Zone zone) {
        items.add(sku);
        return quantity;
    }

    /**
     * Price of an order with an optional discount.
     *
     * @param unitPrice price of one unit
     * @param quantity number of units
     * @param discountPercent optional discount, 0 to 100
     * @return the total price
     */
    public static double orderPrice(double unitPrice, int quantity, Double discountPercent) {
        double d = discountPercent == null ? 0 : discountPercent;
        return unitPrice * quantity * (1 - d / 100);
    }

    /**
     * Find items whose code starts with a prefix.
     *
     * @param prefix the prefix to match
     * @param tags labels that must all be present
     */
    public List<String> search(String prefix, List<String> tags) {
        return items;
    }

    private void compact() {
    }
}
