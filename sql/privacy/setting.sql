-- The privacy setting the sms rows were written with, and the rewrite under way if any
-- (meta.sms_privacy: no row before the first load that reads it).
select written_with, rewriting_to, rewritten_through
from meta.sms_privacy;
