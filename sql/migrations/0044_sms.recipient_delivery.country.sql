-- sms.recipient_delivery.country: the recipient's country (ISO 3166-1 alpha-2), derived from
-- its E.164 phone number with the phonenumbers library when the loader builds the row, so it
-- survives pseudonymisation (PHONE_HASH_SALT replaces the phone, never the country). NULL
-- when phonenumbers cannot place the number in a country (not a number, a non-geographic
-- code); rows loaded before this column existed hold NULL until `make replay` rebuilds them.
alter table sms.recipient_delivery add column country text;

comment on column sms.recipient_delivery.country is
    'The recipient''s country (ISO 3166-1 alpha-2) from its E.164 number (phonenumbers), set at load; NULL when the number names no country.';
