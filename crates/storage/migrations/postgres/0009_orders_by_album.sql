-- An album's orders, for its owner's studio page (OrderFilter::Album).
CREATE INDEX orders_album ON orders (album_id, id);
