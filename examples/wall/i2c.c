/*
 * i2c.c — HT16K33 LED drivers over Linux /dev/i2c-N (open, ioctl I2C_SLAVE, write).
 *
 * The mapping (also in wall.h): module n, row-major, is on chip n / 8 at common n % 8;
 * segment bit s (0..15) is ROW s, so RAM byte 2c = bits 0-7, byte 2c+1 = bits 8-15 of
 * the module on common c; the decimal point, which has no row left, lights d1. Chip k
 * is at address 0x70 + k % 8 on the (k / 8)th bus given: an HT16K33 has only three
 * address pins.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "wall.h"

#define CHIP_MODULES 8
#define BUS_CHIPS 8
#define BASE_ADDR 0x70
#define I2C_SLAVE_REQUEST 0x0703 /* I2C_SLAVE in <linux/i2c-dev.h> */

#define CMD_OSCILLATOR_ON 0x21
#define CMD_DISPLAY_ON 0x81 /* display on, blinking off */
#define CMD_BRIGHTNESS 0xE0 /* | 0..15 */
#define RAM_ADDRESS 0x00

typedef struct i2c {
    int modules, chips, buses;
    char **dev;            /* buses device names (pointing into `devices`) */
    char *devices;         /* the --i2c list, commas replaced by NULs */
    int *fd, *addr;        /* per bus: the open device (-1 in a dry run), its slave address */
    FILE *dry;             /* the dry-run file, or NULL */
    uint8_t (*ram)[16];    /* per chip: the RAM as last sent */
} i2c;

static int send(i2c *c, int chip, const uint8_t *bytes, size_t n)
{
    int bus = chip / BUS_CHIPS, addr = BASE_ADDR + chip % BUS_CHIPS;
    if (c->dry) {
        fprintf(c->dry, "%s 0x%02x:", c->dev[bus], addr);
        for (size_t k = 0; k < n; k++)
            fprintf(c->dry, " %02x", bytes[k]);
        fputc('\n', c->dry);
        return ferror(c->dry) ? wall_fail("i2c: cannot write the dry-run file") : 0;
    }
    if (c->addr[bus] != addr) {
        if (ioctl(c->fd[bus], I2C_SLAVE_REQUEST, addr) < 0)
            return wall_fail("i2c: %s: cannot address 0x%02x: %s", c->dev[bus], addr,
                             strerror(errno));
        c->addr[bus] = addr;
    }
    ssize_t w = write(c->fd[bus], bytes, n);
    if (w != (ssize_t)n)
        return wall_fail("i2c: %s 0x%02x: write failed (%s): is an HT16K33 there?",
                         c->dev[bus], addr, w < 0 ? strerror(errno) : "short write");
    return 0;
}

static int send_ram(i2c *c, int chip, const uint8_t ram[16])
{
    uint8_t msg[17] = {RAM_ADDRESS};
    memcpy(msg + 1, ram, 16);
    if (send(c, chip, msg, sizeof msg) != 0)
        return -1;
    memcpy(c->ram[chip], ram, 16);
    return 0;
}

static int i2c_draw(void *self, const uint32_t *masks)
{
    i2c *c = self;
    for (int chip = 0; chip < c->chips; chip++) {
        uint8_t ram[16] = {0};
        for (int com = 0; com < CHIP_MODULES; com++) {
            int n = chip * CHIP_MODULES + com;
            uint32_t m = n < c->modules ? masks[n] : 0;
            if (m & WALL_DP)
                m |= WALL_D1;
            ram[2 * com] = (uint8_t)(m & 0xFF);
            ram[2 * com + 1] = (uint8_t)(m >> 8 & 0xFF);
        }
        if (memcmp(ram, c->ram[chip], 16) != 0 && send_ram(c, chip, ram) != 0)
            return -1;
    }
    if (c->dry && fflush(c->dry) != 0)
        return wall_fail("i2c: cannot write the dry-run file");
    return 0;
}

static void i2c_close(void *self)
{
    i2c *c = self;
    for (int b = 0; c->fd && b < c->buses; b++)
        if (c->fd[b] >= 0)
            close(c->fd[b]);
    if (c->dry)
        fclose(c->dry);
    free(c->dev);
    free(c->devices);
    free(c->fd);
    free(c->addr);
    free(c->ram);
    free(c);
}

/* Splits the --i2c list into c->dev[0 .. buses). */
static int split_devices(i2c *c, const char *list)
{
    size_t n = strlen(list);
    c->devices = malloc(n + 1);
    if (!c->devices)
        return wall_fail("i2c: out of memory");
    memcpy(c->devices, list, n + 1);
    int have = 0;
    for (char *p = c->devices; p; have++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        if (!*p)
            return wall_fail("i2c: an empty device in the list '%s'", list);
        if (have < c->buses)
            c->dev[have] = p;
        p = comma ? comma + 1 : NULL;
    }
    if (have < c->buses)
        return wall_fail("i2c: a %d-module wall takes %d HT16K33s, but one bus has only 8 "
                         "addresses (0x70..0x77): give %d buses, e.g. --i2c "
                         "/dev/i2c-1,/dev/i2c-3 (got '%s')",
                         c->modules, c->chips, c->buses, list);
    return 0;
}

int wall_i2c_open(const wall_options *o, wall_sink *s)
{
    if (o->brightness < 0 || o->brightness > 15)
        return wall_fail("i2c: brightness %d is not in 0..15", o->brightness);
    i2c *c = calloc(1, sizeof *c);
    if (!c)
        return wall_fail("i2c: out of memory");
    c->modules = o->cols * o->rows;
    c->chips = (c->modules + CHIP_MODULES - 1) / CHIP_MODULES;
    c->buses = (c->chips + BUS_CHIPS - 1) / BUS_CHIPS;
    c->dev = calloc((size_t)c->buses, sizeof *c->dev);
    c->fd = malloc((size_t)c->buses * sizeof *c->fd);
    c->addr = malloc((size_t)c->buses * sizeof *c->addr);
    c->ram = calloc((size_t)c->chips, sizeof *c->ram);
    if (!c->dev || !c->fd || !c->addr || !c->ram) {
        i2c_close(c);
        return wall_fail("i2c: out of memory");
    }
    for (int b = 0; b < c->buses; b++)
        c->fd[b] = c->addr[b] = -1;
    if (split_devices(c, o->i2c_device ? o->i2c_device : "/dev/i2c-1") != 0)
        goto fail;

    if (o->i2c_dry_run) {
        c->dry = fopen(o->i2c_dry_run, "w");
        if (!c->dry) {
            wall_fail("i2c: cannot write %s: %s", o->i2c_dry_run, strerror(errno));
            goto fail;
        }
    } else {
        for (int b = 0; b < c->buses; b++) {
            c->fd[b] = open(c->dev[b], O_RDWR);
            if (c->fd[b] < 0) {
                wall_fail("i2c: cannot open %s: %s", c->dev[b], strerror(errno));
                goto fail;
            }
        }
    }

    /* Oscillator on, RAM blank (its power-on content is undefined), display on,
     * brightness: nothing random flashes up. */
    const uint8_t on[] = {CMD_OSCILLATOR_ON}, show[] = {CMD_DISPLAY_ON};
    const uint8_t dim[] = {(uint8_t)(CMD_BRIGHTNESS | o->brightness)}, blank[16] = {0};
    for (int chip = 0; chip < c->chips; chip++)
        if (send(c, chip, on, 1) || send_ram(c, chip, blank) || send(c, chip, show, 1) ||
            send(c, chip, dim, 1))
            goto fail;
    if (c->dry)
        fflush(c->dry);
    *s = (wall_sink){c, i2c_draw, i2c_close};
    return 0;
fail:
    i2c_close(c);
    return -1;
}
