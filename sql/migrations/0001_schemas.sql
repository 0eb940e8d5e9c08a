-- Schemas: raw (every vendor answer as it came, plus quarantine) and sms (the contract's
-- relations that analysts and BI query).
create schema if not exists raw;
create schema if not exists sms;
