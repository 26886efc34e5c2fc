-- An album's own watermark (JSON: {"kind": "text" | "plugin", ...});
-- NULL uses the deployment's default.
ALTER TABLE albums ADD COLUMN watermark TEXT;
