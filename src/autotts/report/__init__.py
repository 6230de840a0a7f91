"""Reports: the HTML report of a discovery run (:mod:`.discovery_report`) and of ``autotts reproduce``
(:mod:`.reproduce_html`), policy cards (:mod:`.card`), paired comparisons (:mod:`.compare`), oracle
bounds (:mod:`.oracle`), the held-out judgement (:mod:`.judgement`), figures (:mod:`.plots`) and the
self-contained HTML writer (:mod:`.html`).

Modules are imported on demand (matplotlib loads only with the ones that draw).
"""
