ALTER TABLE orders RENAME COLUMN cust_id TO customer_id;
DROP INDEX orders_cust_id_idx;
