-- raw.vendor_response.account — which configured vendor account (API key) asked for the
-- answer: 'default' for NIXFLEX_API_KEY / SMSFACTOR_API_TOKEN, else the lower-cased suffix
-- of NIXFLEX_API_KEY_<ACCOUNT> / SMSFACTOR_API_TOKEN_<ACCOUNT>. Never the key itself.
alter table raw.vendor_response
    add column account text not null default 'default';
