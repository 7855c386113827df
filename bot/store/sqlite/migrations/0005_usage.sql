-- usage metering: messages sent and updated per day, channel and account

CREATE TABLE usage (
    day TEXT NOT NULL,
    channel TEXT NOT NULL,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, channel, account_id, kind)
);
CREATE INDEX usage_channel_day ON usage (channel, day);
