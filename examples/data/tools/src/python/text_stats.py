"""Text statistics used by the editor's status bar."""

import re
from collections import Counter


def word_count(text: str, unique: bool = False) -> int:
    """Count the words in a text.

    :param text: the text to count.
    :param unique: count each distinct word (case-folded) once.
    """
    words = re.findall(r"[A-Za-z0-9']+", text)
    return len({w.casefold() for w in words}) if unique else len(words)


def top_words(text: str, n: int = 3) -> list:
    """The most frequent words of a text, most frequent first.

    Parameters
    ----------
    text : str
        The text to analyse.
    n : int, optional
        How many words to return.
    """
    counts = Counter(w.casefold() for w in re.findall(r"[A-Za-z']+", text))
    return [w for w, _ in counts.most_common(n)]


def reading_time(words: int, speed: str = "average") -> float:
    """Minutes needed to read a number of words.

    Args:
        words (int): number of words.
        speed (str): reading pace, one of "slow", "average", "fast".
    """
    per_minute = {"slow": 150, "average": 230, "fast": 350}[speed]
    return round(words / per_minute, 2)


def save_report(path: str, text: str) -> None:
    """Write a statistics report to a file.

    Args:
        path (str): where to write.
        text (str): the report.
    """
    with open(path, "w") as fh:
        fh.write(text)
