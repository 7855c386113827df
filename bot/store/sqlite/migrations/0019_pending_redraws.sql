-- index the card redraws still waiting, by card (a vote's redraw joins one already queued)
-- A redraw renders the request as it is when it runs, so a card with a redraw still waiting (not
-- yet claimed) needs no second one: votes that arrive together redraw each card once, within
-- the platforms' per-message limits (Lark: 5 updates a second per message).
CREATE INDEX outbox_pending_redraws ON outbox (ref) WHERE kind = 'update_card' AND state = 'pending';
