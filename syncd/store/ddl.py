"""LaminDB's DDL and seed rows for the four tables syncd needs, as `lamin init` (lamindb 2.12) creates them.

An empty database is bootstrapped with exactly these statements so that LaminDB
reads it as one of its own. The statements are facts read off real instances
(see ``docs/schema-notes.md``): SQLite in the column order of a default
``lamin init``, PostgreSQL as ``pg_dump`` shows it.
"""

from __future__ import annotations

__all__ = ["POSTGRESQL_DDL", "POSTGRESQL_SEED_SEQUENCES", "SEED_STATEMENTS", "SQLITE_DDL"]

SQLITE_DDL: tuple[str, ...] = (
    'CREATE TABLE "lamindb_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "uid" varchar(8) NOT NULL UNIQUE, "handle" varchar(30) NOT NULL UNIQUE, "name" varchar(150) NULL, "created_at" datetime DEFAULT (STRFTIME(\'%Y-%m-%d %H:%M:%f\', \'NOW\')) NOT NULL, "updated_at" datetime DEFAULT (STRFTIME(\'%Y-%m-%d %H:%M:%f\', \'NOW\')) NOT NULL)',
    'CREATE INDEX "lamindb_user_created_at_86fee59f" ON "lamindb_user" ("created_at")',
    'CREATE INDEX "lamindb_user_name_af988e15" ON "lamindb_user" ("name")',
    'CREATE INDEX "lamindb_user_updated_at_aad9685e" ON "lamindb_user" ("updated_at")',
    'CREATE TABLE "lamindb_space" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(100) NOT NULL, "uid" varchar(12) NOT NULL UNIQUE, "description" text NULL, "created_at" datetime DEFAULT (STRFTIME(\'%Y-%m-%d %H:%M:%f\', \'NOW\')) NOT NULL, "created_by_id" integer NULL REFERENCES "lamindb_user" ("id") DEFERRABLE INITIALLY DEFERRED)',
    'CREATE INDEX "lamindb_space_created_at_3fdfdb86" ON "lamindb_space" ("created_at")',
    'CREATE INDEX "lamindb_space_created_by_id_1bf8d6b3" ON "lamindb_space" ("created_by_id")',
    'CREATE INDEX "lamindb_space_name_f78e59a7" ON "lamindb_space" ("name")',
    'CREATE UNIQUE INDEX "unique_space_name_lower" ON "lamindb_space" ((LOWER("name")))',
    'CREATE TABLE "lamindb_branch" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(100) NOT NULL, "uid" varchar(12) NOT NULL UNIQUE, "description" text NULL, "created_at" datetime DEFAULT (STRFTIME(\'%Y-%m-%d %H:%M:%f\', \'NOW\')) NOT NULL, "space_id" smallint DEFAULT 1 NOT NULL REFERENCES "lamindb_space" ("id") DEFERRABLE INITIALLY DEFERRED, "created_by_id" integer NOT NULL REFERENCES "lamindb_user" ("id") DEFERRABLE INITIALLY DEFERRED, "_status_code" smallint DEFAULT 0 NOT NULL, "_aux" text DEFAULT \'null\' NULL CHECK ((JSON_VALID("_aux") OR "_aux" IS NULL)))',
    'CREATE INDEX "lamindb_branch__status_code_cfe261eb" ON "lamindb_branch" ("_status_code")',
    'CREATE INDEX "lamindb_branch_created_at_0ee049d8" ON "lamindb_branch" ("created_at")',
    'CREATE INDEX "lamindb_branch_created_by_id_95d1377c" ON "lamindb_branch" ("created_by_id")',
    'CREATE INDEX "lamindb_branch_name_6f42d7e8" ON "lamindb_branch" ("name")',
    'CREATE INDEX "lamindb_branch_space_id_6ea137c6" ON "lamindb_branch" ("space_id")',
    'CREATE UNIQUE INDEX "unique_branch_name_lower" ON "lamindb_branch" ((LOWER("name")))',
    'CREATE TABLE "lamindb_spaceblock" ("version_tag" varchar(30) NULL, "is_latest" bool NOT NULL, "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "uid" varchar(20) NOT NULL UNIQUE, "content" text NOT NULL, "hash" varchar(22) NULL, "kind" varchar(22) DEFAULT \'readme\' NOT NULL, "created_at" datetime DEFAULT (STRFTIME(\'%Y-%m-%d %H:%M:%f\', \'NOW\')) NOT NULL, "_aux" text DEFAULT \'null\' NULL CHECK ((JSON_VALID("_aux") OR "_aux" IS NULL)), "space_id" smallint NOT NULL REFERENCES "lamindb_space" ("id") DEFERRABLE INITIALLY DEFERRED, "created_by_id" integer NOT NULL REFERENCES "lamindb_user" ("id") DEFERRABLE INITIALLY DEFERRED, "_status_code" smallint DEFAULT 0 NOT NULL, "branch_id" integer DEFAULT 1 NOT NULL REFERENCES "lamindb_branch" ("id") DEFERRABLE INITIALLY DEFERRED, "created_on_id" integer DEFAULT 1 NOT NULL REFERENCES "lamindb_branch" ("id") DEFERRABLE INITIALLY DEFERRED)',
    'CREATE INDEX "lamindb_spaceblock__status_code_c6e68493" ON "lamindb_spaceblock" ("_status_code")',
    'CREATE INDEX "lamindb_spaceblock_branch_id_f0ce74ce" ON "lamindb_spaceblock" ("branch_id")',
    'CREATE INDEX "lamindb_spaceblock_created_at_e38846e0" ON "lamindb_spaceblock" ("created_at")',
    'CREATE INDEX "lamindb_spaceblock_created_by_id_252568f4" ON "lamindb_spaceblock" ("created_by_id")',
    'CREATE INDEX "lamindb_spaceblock_created_on_id_1c68dee0" ON "lamindb_spaceblock" ("created_on_id")',
    'CREATE INDEX "lamindb_spaceblock_hash_aa45b81f" ON "lamindb_spaceblock" ("hash")',
    'CREATE INDEX "lamindb_spaceblock_is_latest_3b9f0834" ON "lamindb_spaceblock" ("is_latest")',
    'CREATE INDEX "lamindb_spaceblock_kind_41415d4c" ON "lamindb_spaceblock" ("kind")',
    'CREATE INDEX "lamindb_spaceblock_space_id_78889e95" ON "lamindb_spaceblock" ("space_id")',
    'CREATE INDEX "lamindb_spaceblock_version_tag_4af9c3d9" ON "lamindb_spaceblock" ("version_tag")',
)

POSTGRESQL_DDL: tuple[str, ...] = (
    """CREATE TABLE lamindb_user (
    id integer NOT NULL,
    uid character varying(8) NOT NULL,
    handle character varying(30) NOT NULL,
    name character varying(150),
    created_at timestamp with time zone DEFAULT statement_timestamp() NOT NULL,
    updated_at timestamp with time zone DEFAULT statement_timestamp() NOT NULL
)""",
    """CREATE TABLE lamindb_space (
    id smallint NOT NULL,
    name character varying(100) NOT NULL,
    uid character varying(12) NOT NULL,
    description text,
    created_at timestamp with time zone DEFAULT statement_timestamp() NOT NULL,
    created_by_id integer
)""",
    """CREATE TABLE lamindb_branch (
    id integer NOT NULL,
    name character varying(100) NOT NULL,
    uid character varying(12) NOT NULL,
    description text,
    created_at timestamp with time zone DEFAULT statement_timestamp() NOT NULL,
    _status_code smallint DEFAULT 0 NOT NULL,
    _aux jsonb DEFAULT 'null'::jsonb,
    space_id smallint DEFAULT 1 NOT NULL,
    created_by_id integer NOT NULL
)""",
    """CREATE TABLE lamindb_spaceblock (
    version_tag character varying(30),
    is_latest boolean NOT NULL,
    id bigint NOT NULL,
    uid character varying(20) NOT NULL,
    content text NOT NULL,
    hash character varying(22),
    kind character varying(22) DEFAULT 'readme'::character varying NOT NULL,
    created_at timestamp with time zone DEFAULT statement_timestamp() NOT NULL,
    _status_code smallint DEFAULT 0 NOT NULL,
    _aux jsonb DEFAULT 'null'::jsonb,
    branch_id integer DEFAULT 1 NOT NULL,
    created_on_id integer DEFAULT 1 NOT NULL,
    space_id smallint NOT NULL,
    created_by_id integer NOT NULL
)""",
    """ALTER TABLE lamindb_branch ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME lamindb_branch_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
)""",
    """ALTER TABLE lamindb_space ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME lamindb_space_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
)""",
    """ALTER TABLE lamindb_spaceblock ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME lamindb_spaceblock_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
)""",
    """ALTER TABLE lamindb_user ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME lamindb_user_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
)""",
    """ALTER TABLE ONLY lamindb_branch
    ADD CONSTRAINT lamindb_branch_pkey PRIMARY KEY (id)""",
    """ALTER TABLE ONLY lamindb_branch
    ADD CONSTRAINT lamindb_branch_uid_key UNIQUE (uid)""",
    """ALTER TABLE ONLY lamindb_space
    ADD CONSTRAINT lamindb_space_pkey PRIMARY KEY (id)""",
    """ALTER TABLE ONLY lamindb_space
    ADD CONSTRAINT lamindb_space_uid_key UNIQUE (uid)""",
    """ALTER TABLE ONLY lamindb_spaceblock
    ADD CONSTRAINT lamindb_spaceblock_pkey PRIMARY KEY (id)""",
    """ALTER TABLE ONLY lamindb_spaceblock
    ADD CONSTRAINT lamindb_spaceblock_uid_key UNIQUE (uid)""",
    """ALTER TABLE ONLY lamindb_user
    ADD CONSTRAINT lamindb_user_handle_key UNIQUE (handle)""",
    """ALTER TABLE ONLY lamindb_user
    ADD CONSTRAINT lamindb_user_pkey PRIMARY KEY (id)""",
    """ALTER TABLE ONLY lamindb_user
    ADD CONSTRAINT lamindb_user_uid_key UNIQUE (uid)""",
    "CREATE INDEX lamindb_branch__status_code_cfe261eb ON lamindb_branch USING btree (_status_code)",
    "CREATE INDEX lamindb_branch_created_at_0ee049d8 ON lamindb_branch USING btree (created_at)",
    "CREATE INDEX lamindb_branch_created_by_id_95d1377c ON lamindb_branch USING btree (created_by_id)",
    "CREATE INDEX lamindb_branch_name_6f42d7e8 ON lamindb_branch USING btree (name)",
    "CREATE INDEX lamindb_branch_name_6f42d7e8_like ON lamindb_branch USING btree (name varchar_pattern_ops)",
    "CREATE INDEX lamindb_branch_space_id_6ea137c6 ON lamindb_branch USING btree (space_id)",
    "CREATE INDEX lamindb_branch_uid_9207bb6a_like ON lamindb_branch USING btree (uid varchar_pattern_ops)",
    "CREATE INDEX lamindb_space_created_at_3fdfdb86 ON lamindb_space USING btree (created_at)",
    "CREATE INDEX lamindb_space_created_by_id_1bf8d6b3 ON lamindb_space USING btree (created_by_id)",
    "CREATE INDEX lamindb_space_name_f78e59a7 ON lamindb_space USING btree (name)",
    "CREATE INDEX lamindb_space_name_f78e59a7_like ON lamindb_space USING btree (name varchar_pattern_ops)",
    "CREATE INDEX lamindb_space_uid_4739d5b1_like ON lamindb_space USING btree (uid varchar_pattern_ops)",
    "CREATE INDEX lamindb_spaceblock__status_code_c6e68493 ON lamindb_spaceblock USING btree (_status_code)",
    "CREATE INDEX lamindb_spaceblock_branch_id_f0ce74ce ON lamindb_spaceblock USING btree (branch_id)",
    "CREATE INDEX lamindb_spaceblock_created_at_e38846e0 ON lamindb_spaceblock USING btree (created_at)",
    "CREATE INDEX lamindb_spaceblock_created_by_id_252568f4 ON lamindb_spaceblock USING btree (created_by_id)",
    "CREATE INDEX lamindb_spaceblock_created_on_id_1c68dee0 ON lamindb_spaceblock USING btree (created_on_id)",
    "CREATE INDEX lamindb_spaceblock_hash_aa45b81f ON lamindb_spaceblock USING btree (hash)",
    "CREATE INDEX lamindb_spaceblock_hash_aa45b81f_like ON lamindb_spaceblock USING btree (hash varchar_pattern_ops)",
    "CREATE INDEX lamindb_spaceblock_is_latest_3b9f0834 ON lamindb_spaceblock USING btree (is_latest)",
    "CREATE INDEX lamindb_spaceblock_kind_41415d4c ON lamindb_spaceblock USING btree (kind)",
    "CREATE INDEX lamindb_spaceblock_kind_41415d4c_like ON lamindb_spaceblock USING btree (kind varchar_pattern_ops)",
    "CREATE INDEX lamindb_spaceblock_space_id_78889e95 ON lamindb_spaceblock USING btree (space_id)",
    "CREATE INDEX lamindb_spaceblock_uid_fc508f00_like ON lamindb_spaceblock USING btree (uid varchar_pattern_ops)",
    "CREATE INDEX lamindb_spaceblock_version_tag_4af9c3d9 ON lamindb_spaceblock USING btree (version_tag)",
    "CREATE INDEX lamindb_spaceblock_version_tag_4af9c3d9_like ON lamindb_spaceblock USING btree (version_tag varchar_pattern_ops)",
    "CREATE INDEX lamindb_user_created_at_86fee59f ON lamindb_user USING btree (created_at)",
    "CREATE INDEX lamindb_user_handle_35a84ca0_like ON lamindb_user USING btree (handle varchar_pattern_ops)",
    "CREATE INDEX lamindb_user_name_af988e15 ON lamindb_user USING btree (name)",
    "CREATE INDEX lamindb_user_name_af988e15_like ON lamindb_user USING btree (name varchar_pattern_ops)",
    "CREATE INDEX lamindb_user_uid_2feec228_like ON lamindb_user USING btree (uid varchar_pattern_ops)",
    "CREATE INDEX lamindb_user_updated_at_aad9685e ON lamindb_user USING btree (updated_at)",
    "CREATE UNIQUE INDEX unique_branch_name_lower ON lamindb_branch USING btree (lower((name)::text))",
    "CREATE UNIQUE INDEX unique_space_name_lower ON lamindb_space USING btree (lower((name)::text))",
    """ALTER TABLE ONLY lamindb_branch
    ADD CONSTRAINT lamindb_branch_created_by_id_95d1377c_fk_lamindb_user_id FOREIGN KEY (created_by_id) REFERENCES lamindb_user(id) DEFERRABLE INITIALLY DEFERRED""",
    """ALTER TABLE ONLY lamindb_branch
    ADD CONSTRAINT lamindb_branch_space_id_6ea137c6_fk_lamindb_space_id FOREIGN KEY (space_id) REFERENCES lamindb_space(id) DEFERRABLE INITIALLY DEFERRED""",
    """ALTER TABLE ONLY lamindb_space
    ADD CONSTRAINT lamindb_space_created_by_id_1bf8d6b3_fk_lamindb_user_id FOREIGN KEY (created_by_id) REFERENCES lamindb_user(id) DEFERRABLE INITIALLY DEFERRED""",
    """ALTER TABLE ONLY lamindb_spaceblock
    ADD CONSTRAINT lamindb_spaceblock_branch_id_f0ce74ce_fk_lamindb_branch_id FOREIGN KEY (branch_id) REFERENCES lamindb_branch(id) DEFERRABLE INITIALLY DEFERRED""",
    """ALTER TABLE ONLY lamindb_spaceblock
    ADD CONSTRAINT lamindb_spaceblock_created_by_id_252568f4_fk_lamindb_user_id FOREIGN KEY (created_by_id) REFERENCES lamindb_user(id) DEFERRABLE INITIALLY DEFERRED""",
    """ALTER TABLE ONLY lamindb_spaceblock
    ADD CONSTRAINT lamindb_spaceblock_created_on_id_1c68dee0_fk_lamindb_branch_id FOREIGN KEY (created_on_id) REFERENCES lamindb_branch(id) DEFERRABLE INITIALLY DEFERRED""",
    """ALTER TABLE ONLY lamindb_spaceblock
    ADD CONSTRAINT lamindb_spaceblock_space_id_78889e95_fk_lamindb_space_id FOREIGN KEY (space_id) REFERENCES lamindb_space(id) DEFERRABLE INITIALLY DEFERRED""",
)

# The rows every instance starts with; ids are explicit, as LaminDB seeds them.
SEED_STATEMENTS: tuple[str, ...] = (
    "INSERT INTO lamindb_user (id, uid, handle, name) VALUES (1, '00000000', 'anonymous', NULL)",
    "INSERT INTO lamindb_space (id, name, uid, description, created_by_id) VALUES (1, 'all', "
    "'aaaaaaaaaaaa', 'Every team & user with access to the instance has access.', NULL)",
    "INSERT INTO lamindb_branch (id, name, uid, description, space_id, created_by_id, _status_code, _aux) "
    "VALUES (-1, 'trash', 'tttttttttttt', 'The trash.', 1, 1, 0, NULL)",
    "INSERT INTO lamindb_branch (id, name, uid, description, space_id, created_by_id, _status_code, _aux) "
    "VALUES (0, 'archive', 'aaaaaaaaaaaa', 'The archive.', 1, 1, 0, NULL)",
    "INSERT INTO lamindb_branch (id, name, uid, description, space_id, created_by_id, _status_code, _aux) "
    "VALUES (1, 'main', 'mmmmmmmmmmmm', 'The main & default branch of the instance.', 1, 1, 0, NULL)",
)

# Identity columns are BY DEFAULT: explicit-id seed rows do not advance them, so
# set them where `lamin init` leaves them (the next space LaminDB makes is id 2).
POSTGRESQL_SEED_SEQUENCES: tuple[str, ...] = (
    "SELECT setval('lamindb_user_id_seq', 1, true)",
    "SELECT setval('lamindb_space_id_seq', 1, true)",
    "SELECT setval('lamindb_branch_id_seq', 1, true)",
)
