-- An album's revision: it changes in the same transaction as any change to
-- the album or to one of its photos (MetadataStore's rule, see
-- proofsheet_core::Album::revision). Readers compare it to serve cached
-- photo lists and answer conditional requests without reading the photos.
-- update_album bumps it itself; the trigger covers every photo write.
ALTER TABLE albums ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION photos_bump_album() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE albums SET revision = revision + 1 WHERE id = OLD.album_id;
        RETURN OLD;
    END IF;
    UPDATE albums SET revision = revision + 1 WHERE id = NEW.album_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER photos_bump_album AFTER INSERT OR UPDATE OR DELETE ON photos
    FOR EACH ROW EXECUTE FUNCTION photos_bump_album();
