"""Presentation of what the core builds: dossier pages and drawings for people to read.

``chain`` lays out the back-trace drawing (vocabulary, roles, boxes), ``svg`` and
``dossier_pdf`` draw it, ``dossier_html`` prints a whole dossier as a page. The core
(:mod:`insutrace.trace`) builds and verifies the data and never imports this package.
"""
