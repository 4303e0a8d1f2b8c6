"""Generated scenarios written through the core's ledger (:mod:`insutrace.trace`).

``scenario`` is the one scenario builder: organisations with valid credit codes, products,
batches, reports, custody, projects, site steps and acceptance, each a well-formed entry.
``story`` is the demo written through it (``insutrace demo``, ``serve --demo-if-empty``):
a seeded, byte-reproducible tale of makers, labs, custody, sites, a recall and existing
buildings. The tests and the benchmarks build through ``scenario`` too. This package
lives outside the domain package because it is data the domain rules accept, not a rule;
the core never imports it.
"""
