"""WAL positions (LSNs): PostgreSQL's "16/B374D848" text, as integers the routers compare."""


def parse_lsn(text: str) -> int:
    """Turn PostgreSQL's "X/Y" LSN text into a comparable integer."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(value: int) -> str:
    """Turn an integer LSN back into PostgreSQL's "X/Y" text."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"
