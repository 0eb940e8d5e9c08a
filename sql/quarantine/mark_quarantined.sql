-- An answer is quarantined; :reason is "<kind>: <reason>".
update raw.vendor_response
set load_status = 'quarantined', loaded_at = now(), load_note = :reason
where response_id = :id;
