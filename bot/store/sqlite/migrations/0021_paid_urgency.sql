-- a channel's consent says whether the admin accepted its paid (SMS and phone) urgency
-- SMS and phone urgency are charged by the platform to the tenant: used only where the admin
-- accepted them with the notice. Consents given before accepted none.
ALTER TABLE channel_authorizations ADD COLUMN paid_urgency INTEGER NOT NULL DEFAULT 0;
