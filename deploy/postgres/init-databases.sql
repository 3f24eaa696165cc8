-- One database per service on the one PostgreSQL server of docker-compose.yml.
-- The official postgres image runs this once, on an empty data directory, as POSTGRES_USER
-- (crm), who therefore owns them. Tables come from each service's migrations (migrate-<name>).
CREATE DATABASE clients;
CREATE DATABASE deals;
CREATE DATABASE activities;
CREATE DATABASE ares;
CREATE DATABASE importer;
CREATE DATABASE gateway;
