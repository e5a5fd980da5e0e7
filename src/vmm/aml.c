/* AML encoding (see aml.h). PkgLength counts itself: one byte up to 63,
 * else a lead byte whose top two bits give the number of bytes that follow
 * and whose low nibble holds the lowest four bits of the length. */
#include "vmm/aml.h"

#include <string.h>

#define AML_SCOPE_OP   0x10
#define AML_NAME_OP    0x08
#define AML_PACKAGE_OP 0x12
#define AML_BUFFER_OP  0x11
#define AML_EXT_PREFIX 0x5b
#define AML_DEVICE_OP  0x82
#define AML_DUAL_NAME  0x2e
#define AML_MULTI_NAME 0x2f

void aml_bytes(struct aml *a, const void *p, size_t len)
{
        if (a->overflow || len > AML_MAX - a->n) {
                a->overflow = true;
                return;
        }
        memcpy(a->b + a->n, p, len);
        a->n += len;
}

static void aml_byte(struct aml *a, uint8_t v)
{
        aml_bytes(a, &v, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned len)
{
        for (unsigned i = 0; i < len; i++)
                aml_byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_int(struct aml *a, uint64_t v)
{
        if (v <= 1) {
                aml_byte(a, (uint8_t)v); /* ZeroOp, OneOp */
        } else if (v <= 0xff) {
                aml_byte(a, 0x0a);
                aml_le(a, v, 1);
        } else if (v <= 0xffff) {
                aml_byte(a, 0x0b);
                aml_le(a, v, 2);
        } else if (v <= 0xffffffff) {
                aml_byte(a, 0x0c);
                aml_le(a, v, 4);
        } else {
                aml_byte(a, 0x0e);
                aml_le(a, v, 8);
        }
}

static void aml_seg(struct aml *a, const char *s, size_t len)
{
        char seg[4] = {'_', '_', '_', '_'};

        memcpy(seg, s, len > 4 ? 4 : len);
        aml_bytes(a, seg, 4);
}

void aml_name(struct aml *a, const char *path)
{
        const char *segs[8];
        size_t lens[8];
        unsigned n = 0;

        if (*path == '\\') {
                aml_byte(a, '\\');
                path++;
        }
        while (*path && n < 8) {
                const char *dot = strchr(path, '.');
                size_t len = dot ? (size_t)(dot - path) : strlen(path);
                segs[n] = path;
                lens[n++] = len;
                path += len + (dot ? 1 : 0);
        }
        if (n == 0)
                aml_byte(a, 0x00); /* NullName */
        else if (n == 2)
                aml_byte(a, AML_DUAL_NAME);
        else if (n > 2) {
                aml_byte(a, AML_MULTI_NAME);
                aml_byte(a, (uint8_t)n);
        }
        for (unsigned i = 0; i < n; i++)
                aml_seg(a, segs[i], lens[i]);
}

static void aml_pkglen(struct aml *a, size_t body)
{
        size_t total;
        unsigned follow;

        if (body + 1 < 0x40) {
                aml_byte(a, (uint8_t)(body + 1));
                return;
        }
        for (follow = 1; follow < 3; follow++)
                if (body + 1 + follow < (1ULL << (4 + 8 * follow)))
                        break;
        total = body + 1 + follow;
        aml_byte(a, (uint8_t)((follow << 6) | (total & 0xf)));
        for (unsigned i = 0; i < follow; i++)
                aml_byte(a, (uint8_t)(total >> (4 + 8 * i)));
}

/* op PkgLength name body */
static void aml_wrap(struct aml *a, const uint8_t *op, size_t op_len, const char *name,
                     const struct aml *body)
{
        struct aml head = {0};

        if (body->overflow) {
                a->overflow = true;
                return;
        }
        if (name)
                aml_name(&head, name);
        aml_bytes(a, op, op_len);
        aml_pkglen(a, head.n + body->n);
        aml_bytes(a, head.b, head.n);
        aml_bytes(a, body->b, body->n);
}

void aml_name_obj(struct aml *a, const char *name, const struct aml *value)
{
        if (value->overflow) {
                a->overflow = true;
                return;
        }
        aml_byte(a, AML_NAME_OP);
        aml_name(a, name);
        aml_bytes(a, value->b, value->n);
}

void aml_name_int(struct aml *a, const char *name, uint64_t v)
{
        aml_byte(a, AML_NAME_OP);
        aml_name(a, name);
        aml_int(a, v);
}

void aml_scope(struct aml *a, const char *name, const struct aml *body)
{
        static const uint8_t op[] = {AML_SCOPE_OP};

        aml_wrap(a, op, sizeof(op), name, body);
}

void aml_device(struct aml *a, const char *name, const struct aml *body)
{
        static const uint8_t op[] = {AML_EXT_PREFIX, AML_DEVICE_OP};

        aml_wrap(a, op, sizeof(op), name, body);
}

void aml_package(struct aml *a, unsigned count, const struct aml *elements)
{
        static const uint8_t op[] = {AML_PACKAGE_OP};
        struct aml body = {0};

        aml_byte(&body, (uint8_t)count);
        aml_bytes(&body, elements->b, elements->n);
        body.overflow |= elements->overflow;
        aml_wrap(a, op, sizeof(op), NULL, &body);
}

void aml_buffer(struct aml *a, const struct aml *bytes)
{
        static const uint8_t op[] = {AML_BUFFER_OP};
        struct aml body = {0};

        aml_int(&body, bytes->n);
        aml_bytes(&body, bytes->b, bytes->n);
        body.overflow |= bytes->overflow;
        aml_wrap(a, op, sizeof(op), NULL, &body);
}

uint32_t aml_eisa_id(const char *id)
{
        uint32_t v = 0;

        /* Three letters of 5 bits each, then four hex digits; stored
         * big-endian in a little-endian DWORD. */
        v |= (uint32_t)((id[0] - '@') & 0x1f) << 26;
        v |= (uint32_t)((id[1] - '@') & 0x1f) << 21;
        v |= (uint32_t)((id[2] - '@') & 0x1f) << 16;
        for (int i = 3; i < 7; i++) {
                char c = id[i];
                uint32_t d = c >= 'A' ? (uint32_t)(c - 'A' + 10) : (uint32_t)(c - '0');
                v |= (d & 0xf) << (4 * (6 - i));
        }
        return ((v >> 24) & 0xff) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}
