-- Records access (issue 6): auditors read a recording's trail by subject (GET /v1/recordings/:id/audit);
-- without this index that is a scan of the whole log.
create index audit_log_subject on audit_log (subject_id, seq) where subject_id is not null;
