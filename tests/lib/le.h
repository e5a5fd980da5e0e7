/* Little-endian field readers for tests that inspect guest-memory images
 * (boot_params, firmware tables); memcpy avoids unaligned access. */
#ifndef ISOLA_TESTS_LE_H
#define ISOLA_TESTS_LE_H

#include <stdint.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
}

#endif
