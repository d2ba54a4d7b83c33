/* A toy sampling calorimeter behind paretoopt's external-simulator contract (docs/external.md).
 *
 * Usage: toycal path/to/input.json   (run in the evaluation's working directory)
 * Reads params.absorber_mm, params.active_mm, choices.absorber ("Pb", "W", "Fe"),
 * choices.n_layers, seed and n_samples; writes output.json with
 *   resolution: sigma_E/E in %, {"value", "stderr"} (a set-level figure over n_samples events)
 *   cost:       kEUR for a 1 m^2 calorimeter, exact
 *   depth_cm:   total depth, exact
 * Physics (10 GeV electrons), every constant with its source:
 *   sampling term sigma/E = 2.7 % sqrt(d_abs[mm] / f_samp) / sqrt(E[GeV])
 *     (Wigmans, "Calorimetry", 2nd ed., eq. 4.22; f_samp from minimum-ionisation dE/dx);
 *   longitudinal profile dE/dt ~ t^(a-1) e^(-b t), b = 0.5, t_max = (a-1)/b = ln(E/Ec) - 0.5
 *     (PDG Review of Particle Physics 2024, "Passage of particles through matter", eq. 34.36),
 *     a fluctuating by 10 % per event: the leakage behind the last layer fluctuates with it;
 *   X0, Ec, dE/dx_min: PDG Atomic and Nuclear Properties tables.
 * The standard error of an RMS over n events is sigma / sqrt(2 (n - 1)) (Gaussian events).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* The text after "key": in a flat JSON document (our input's keys are unique). */
static const char *after_key(const char *json, const char *key) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(json, pattern);
    if (!p) { fprintf(stderr, "input.json has no \"%s\"\n", key); exit(2); }
    p = strchr(p + strlen(pattern), ':');
    return p + 1;
}

static double number(const char *json, const char *key) { return strtod(after_key(json, key), NULL); }

static void string(const char *json, const char *key, char *out, size_t size) {
    const char *p = strchr(after_key(json, key), '"');
    const char *q = p ? strchr(p + 1, '"') : NULL;
    if (!q || (size_t)(q - p - 1) >= size) { fprintf(stderr, "bad string for \"%s\"\n", key); exit(2); }
    memcpy(out, p + 1, (size_t)(q - p - 1));
    out[q - p - 1] = 0;
}

static uint64_t state;
static double uniform(void) { /* xorshift64*: Vigna 2016 */
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
    return ((state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) { /* Box-Muller */
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u > 1e-300 ? u : 1e-300)) * cos(2.0 * M_PI * v);
}

/* Fraction of a gamma profile (shape a, rate b) contained in depth T (X0), Simpson's rule. */
static double contained(double a, double b, double T) {
    int n = 400;
    double h = T / n, sum = 0.0;
    for (int i = 0; i <= n; i++) {
        double t = i * h, w = (i == 0 || i == n) ? 1.0 : (i % 2 ? 4.0 : 2.0);
        sum += w * (t > 0 ? pow(b * t, a - 1.0) * exp(-b * t) * b : 0.0);
    }
    double c = sum * h / 3.0 / tgamma(a);
    return c > 1.0 ? 1.0 : c;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: toycal input.json\n"); return 2; }
    char *json = read_file(argv[1]);
    double d_abs = number(json, "absorber_mm"), d_act = number(json, "active_mm");
    int layers = (int)number(json, "n_layers"), n = (int)number(json, "n_samples");
    long long seed = (long long)number(json, "seed");
    char absorber[16];
    string(json, "absorber", absorber, sizeof absorber);
    double x0_mm, ec_mev, dedx, price; /* PDG: X0, critical energy (e-), dE/dx_min MeV/cm; EUR/cm3 */
    if (!strcmp(absorber, "Pb")) { x0_mm = 5.612; ec_mev = 7.43; dedx = 12.74; price = 0.03; }
    else if (!strcmp(absorber, "W")) { x0_mm = 3.504; ec_mev = 7.97; dedx = 22.10; price = 0.60; }
    else if (!strcmp(absorber, "Fe")) { x0_mm = 17.57; ec_mev = 21.68; dedx = 11.43; price = 0.01; }
    else { fprintf(stderr, "unknown absorber \"%s\" (Pb, W, Fe)\n", absorber); return 2; }
    const double dedx_scint = 2.052, x0_scint_mm = 413.1, price_scint = 0.05; /* polystyrene */
    const double energy_gev = 10.0;
    if (n < 2 || layers < 1 || d_abs <= 0 || d_act <= 0) { fprintf(stderr, "bad input\n"); return 2; }
    state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(seed + 1);
    for (int i = 0; i < 8; i++) uniform();

    double f_samp = d_act * dedx_scint / (d_act * dedx_scint + d_abs * dedx);
    double sampling = 0.027 * sqrt(d_abs / f_samp) / sqrt(energy_gev);
    double depth_x0 = layers * (d_abs / x0_mm + d_act / x0_scint_mm);
    double b = 0.5, a = b * (log(energy_gev * 1000.0 / ec_mev) - 0.5) + 1.0;
    double sum = 0.0, sum2 = 0.0;
    for (int i = 0; i < n; i++) {
        double ai = a * (1.0 + 0.1 * gauss());
        if (ai < 1.05) ai = 1.05;
        double e = energy_gev * contained(ai, b, depth_x0) * (1.0 + sampling * gauss());
        sum += e;
        sum2 += e * e;
    }
    double mean = sum / n, var = (sum2 - n * mean * mean) / (n - 1);
    double res = 100.0 * sqrt(var > 0 ? var : 0) / mean;
    double cost = layers * (d_abs * price + d_act * price_scint) * 100.0 * 100.0 / 10.0 / 1000.0;
    FILE *out = fopen("output.json", "w");
    fprintf(out, "{\"resolution\": {\"value\": %.10g, \"stderr\": %.10g}, \"cost\": %.10g, \"depth_cm\": %.10g}\n",
            res, res / sqrt(2.0 * (n - 1)), cost, layers * (d_abs + d_act) / 10.0);
    fclose(out);
    free(json);
    return 0;
}
