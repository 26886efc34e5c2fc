-- An album's revision: it changes in the same transaction as any change to
-- the album or to one of its photos (MetadataStore's rule, see
-- proofsheet_core::Album::revision). Readers compare it to serve cached
-- photo lists and answer conditional requests without reading the photos.
-- update_album bumps it itself; the triggers cover every photo write.
ALTER TABLE albums ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER photos_insert_bumps_album AFTER INSERT ON photos BEGIN
    UPDATE albums SET revision = revision + 1 WHERE id = NEW.album_id;
END;

CREATE TRIGGER photos_update_bumps_album AFTER UPDATE ON photos BEGIN
    UPDATE albums SET revision = revision + 1 WHERE id = NEW.album_id;
END;

CREATE TRIGGER photos_delete_bumps_album AFTER DELETE ON photos BEGIN
    UPDATE albums SET revision = revision + 1 WHERE id = OLD.album_id;
END;
