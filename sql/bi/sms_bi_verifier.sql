-- Hands sms_bi's new SCRAM verifier (bound parameter :verifier) to sms_bi_password.sql, in the
-- same transaction. The verifier is computed by the client: the password itself never reaches
-- the server or its logs.
select set_config('sms_bi.verifier', :verifier, true);
