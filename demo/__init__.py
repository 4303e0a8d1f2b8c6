"""Generated scenarios written through the core's ledger (:mod:`insutrace.trace`).

``story`` is the demo (``insutrace demo``, ``serve --demo-if-empty``): a seeded,
byte-reproducible tale of makers, labs, custody, sites, a recall and existing buildings.
It lives outside the domain package because it is data the domain rules accept, not a
rule. The core never imports this package.
"""
