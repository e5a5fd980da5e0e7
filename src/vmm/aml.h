/* A small ACPI Machine Language encoder for the DSDT (ACPI 6.5, chapter
 * 20): names, integers, packages, buffers and the PkgLength-prefixed
 * scopes, devices and packages that nest them. Writers append to a bounded
 * buffer; overflowing it sets `overflow` instead of writing past the end. */
#ifndef ISOLA_VMM_AML_H
#define ISOLA_VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX 4096

struct aml {
        uint8_t b[AML_MAX];
        size_t n;
        bool overflow;
};

void aml_bytes(struct aml *a, const void *p, size_t len);
/* Integer with the shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWord). */
void aml_int(struct aml *a, uint64_t v);
/* A name of 4-character segments separated by dots, "\" for the root:
 * "\_SB_.PCI0", "_PRT". Segments shorter than 4 are padded with '_'. */
void aml_name(struct aml *a, const char *path);
/* Name(NAME, <object already encoded in value>) */
void aml_name_obj(struct aml *a, const char *name, const struct aml *value);
void aml_name_int(struct aml *a, const char *name, uint64_t v);
/* Scope(NAME) { body } and Device(NAME) { body } */
void aml_scope(struct aml *a, const char *name, const struct aml *body);
void aml_device(struct aml *a, const char *name, const struct aml *body);
/* Package(count) { elements } (elements already encoded) */
void aml_package(struct aml *a, unsigned count, const struct aml *elements);
/* Buffer() { bytes } */
void aml_buffer(struct aml *a, const struct aml *bytes);
/* EisaId("PNP0A03") as its 32-bit compressed form. */
uint32_t aml_eisa_id(const char *id);

#endif
