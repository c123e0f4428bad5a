"""netproof: proves on a real multi-host lab that Docker networking does what Docker promises."""

__version__ = "0.1.0"
