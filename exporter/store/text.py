"""Any string a cluster holds can be stored: one odd name never costs a whole scan.

Names come from the API server or from files, and neither guarantees what a database
accepts: a lone surrogate ("\\ud800") cannot be encoded as UTF-8 (SQLite's driver and
PostgreSQL both refuse it), PostgreSQL refuses NUL in text, and a name over 253
characters would overflow a VARCHAR(253). The history keeps names in unbounded text
columns and passes every string through `clean`, which keeps printable text as it is and
spells the rest out with backslash escapes ("\\ud800", "\\x00"), so what is stored still
shows what was there. Kubernetes names cannot hold a backslash, so no real name is
confused with an escaped one.
"""

from __future__ import annotations


def clean(value: str) -> str:
    """`value`, storable in any database: unencodable code points and NUL escaped."""
    if value.isascii():
        return value.replace("\x00", "\\x00") if "\x00" in value else value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value.replace("\x00", "\\x00") if "\x00" in value else value
