-- ringproof schema v15: a client's brand colour, the accent of its link pages (button, top
-- bar): '#rrggbb', lower-case, checked readable under white text when set
-- (ringproof_core::client::BrandColor). NULL: ringproof's own accent.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

ALTER TABLE clients ADD COLUMN brand_color TEXT;
