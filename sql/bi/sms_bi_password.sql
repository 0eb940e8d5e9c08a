-- Sets sms_bi's password to the verifier sms_bi_verifier.sql handed over.
do $$
begin
    execute format('alter role sms_bi password %L', current_setting('sms_bi.verifier'));
end
$$;
