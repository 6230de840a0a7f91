"""Discovery: the loop that asks a proposer for controllers, validates them, evaluates them in the
sandbox on the search stores, keeps everything in a run folder and chooses one.

Modules: ``loop`` (the loop and its configuration), ``runfolder`` (the run folder's layout, journal and
atomic writes), ``workspace`` (what a proposer may see), ``history`` (trace digests), ``prompt`` (the
proposer prompt), ``selection`` (choice and frontier figures), ``pricing``, ``validation``,
``proposers`` (claude-code, openai, anthropic, command, evolve).
"""
