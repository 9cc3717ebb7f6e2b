-- ringproof schema v14: SIM-swap risk (docs/security.md, "SIM swap").
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- What the operator said about a recent SIM swap before the link was sent: 'swapped',
-- 'not_swapped' or 'unknown'; NULL when the client does not check. (A verification keeps
-- its result in its `options` JSON.)
ALTER TABLE link_sessions ADD COLUMN sim_swap TEXT;
