"""ksync: declare Kustomer emails and phones in YAML; plan and apply the difference."""

__version__ = "0.1.0"
