-- an account's own time zone, beside its channel order and email opt-in
-- An IANA name (Asia/Shanghai), checked before it is written; NULL: the zone of the card's
-- locale. Cards, emails and quiet hours read it.
ALTER TABLE account_preferences ADD COLUMN time_zone TEXT;
