"""The store's repositories, one small class per area of the ``bot.core.ports`` store ports,
each bound to one engine transaction, and the unit of work that holds them (``unit``).

Written once for every engine: a repository runs the engine's named queries (``tx.sql``)
through the transaction's three primitives (``bot.store.tx.EngineTx``).
"""
