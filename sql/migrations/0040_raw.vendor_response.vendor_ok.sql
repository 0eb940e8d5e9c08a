-- raw.vendor_response.vendor_ok — whether the vendor said the request succeeded: HTTP 2xx
-- and, for SMSFactor, no error in the body (SMSFactor reports errors with a negative
-- `status`, or an `error` field, on HTTP 200: docs/vendors.md). The landing sets it for
-- every answer; data_is_fresh counts only these, so an outage served as HTTP 200 shows.
-- NULL: an answer written by other means than the landing; its HTTP status is all we know.
--
-- Backfill: what the stored bytes say. An SMSFactor error answer is small, so it is kept
-- as it is (body_encoding identity: bodies.py), or as jsonb `payload` before 0016; a body
-- kept compressed (64 KB and more) is a page of campaigns. An answer kept by reference
-- (duplicate_of) has its original's bytes. The patterns are those smsfactor_parse.error_of
-- reads: a negative top-level `status` (JSON or XML), or an `error` with no campaign.
alter table raw.vendor_response add column vendor_ok boolean;

update raw.vendor_response set vendor_ok = http_status between 200 and 299;

with said_error as (
    select response_id
    from raw.vendor_response
    where provider = 'smsfactor'
      and duplicate_of is null
      and http_status between 200 and 299
      and case
          when payload is not null and jsonb_typeof(payload) = 'object' then
              coalesce(payload ->> 'status' ~ '^\s*-[0-9]+\s*$', false)
              or (payload ? 'error' and not payload ? 'campaign'
                  and not payload ? 'campaigns')
          when body is not null and body_encoding = 'identity' then
              encode(body, 'escape') ~ '("status"\s*:\s*"?\s*|<status>\s*)-[0-9]'
              or (encode(body, 'escape') ~ '"error"\s*:'
                  and encode(body, 'escape') !~ '"campaigns?"\s*:')
          else false
      end
)
update raw.vendor_response as r
set vendor_ok = false
from said_error as e
where r.provider = 'smsfactor'
  and coalesce(r.duplicate_of, r.response_id) = e.response_id;

comment on column raw.vendor_response.vendor_ok is
    'The vendor said it succeeded: HTTP 2xx and, for SMSFactor, no error in the body (negative status, on HTTP 200 too). NULL: not written by the landing (the HTTP status alone).';
