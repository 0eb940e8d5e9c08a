-- An answer is loaded, with what the loader has to say about it (NULL: nothing).
update raw.vendor_response
set load_status = 'loaded', loaded_at = now(), load_note = :note
where response_id = :id;
