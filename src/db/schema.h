/* The schema statements db_open applies (see schema.c). */
#ifndef ISOLA_DB_SCHEMA_H
#define ISOLA_DB_SCHEMA_H

extern const char *const db_schema[];
extern const char *const db_schema_upgrades[];

#endif
