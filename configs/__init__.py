"""The example workstation configs and the shipped drug library, as package data.

Data only: nothing here is code and nothing is imported. The files are found with
``importlib.resources.files("configs")`` (see ``channels.druglib.DEFAULT_LIBRARY_PATH``), the
same way in a checkout and in an installed wheel:

- ``workstation.toml``: one bus; documents every field (``icu-ws check-config``'s default)
- ``two-stations.toml``: two chained stations on two buses
- ``drug-library/adult-icu.toml``: the shipped drug library

``mosquitto/`` (a production broker's config and ACLs) is for the broker host and is not
shipped in the wheel. Engineers pass their own configs and libraries by path.
"""
