"""The Alibaba Cloud Marketplace simulator: buyer console, SPI delivery, fake Market OpenAPI.

A program of its own, a separate model of Alibaba: it shares no code with the vendor (``kaitong``),
only generic infrastructure from ``kaitong_base``, and each side is forbidden to import the other
(import-linter). It is started as a process: ``python -m kaitong_sim``, ``kaitong-sim`` or
``kaitong simulator``.
"""
