-- wait_for_checks (issue 25 review, H4): the sweep decides each wait once when its grace has passed
-- (a check suite that never started stops counting then), and marks it so as not to pick it again.
ALTER TABLE check_waits ADD COLUMN graced boolean NOT NULL DEFAULT false;
CREATE INDEX check_waits_to_grace ON check_waits (grace_until) WHERE NOT graced;
