"""xunfang (巡防): patrol and prevention planning for police districts."""

__version__ = "0.1.0"
