/*
 * validate.c — checking request bodies against a field table, reporting every invalid field
 * at once as JSON Pointers. Shapes are checked here; rules that need the data (uniqueness,
 * capacity, transitions) are PostgreSQL's.
 */
#include "http/http.h"

#include <regex.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const struct phrase VALIDATE_PHRASES[PH__COUNT] = {
    [PH_STRING] = {"a string", "una cadena de texto"},
    [PH_EMAIL] = {"an email address", "una dirección de correo electrónico"},
    [PH_UUID] = {"a UUID", "un UUID"},
    [PH_DATE] = {"a date YYYY-MM-DD", "una fecha AAAA-MM-DD"},
    [PH_DATETIME] = {"an RFC 3339 date-time", "una fecha y hora RFC 3339"},
    [PH_URL] = {"an absolute http(s) URL with a host, without spaces or quotes",
                "una URL http(s) absoluta con un host, sin espacios ni comillas"},
    [PH_BOOL] = {"true or false", "true o false"},
    [PH_INTEGER] = {"an integer", "un número entero"},
    [PH_WHOLE] = {"a whole number", "un número entero no negativo"},
    [PH_NUMBER] = {"a number", "un número"},
    [PH_BILINGUAL] = {"an object {\"es\", \"en\"}", "un objeto {\"es\", \"en\"}"},
    [PH_STRINGS] = {"an array of strings", "una lista de cadenas de texto"},
    [PH_OBJECT] = {"an object", "un objeto"},
    [PH_OBJECTS] = {"an array of objects", "una lista de objetos"},
};

void req_field_must_be(struct req *r, const char *pointer, const char *code, enum phrase_id what) {
  req_field_error_text(r, pointer, code, VALIDATE_PHRASES[what].en, VALIDATE_PHRASES[what].es);
}

static void join_values(const char *const *values, char *out, size_t cap) {
  out[0] = '\0';
  for (size_t i = 0; values[i] != NULL; i++) {
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "%s%s", i ? ", " : "", values[i]);
  }
}

static bool in_values(const char *s, const char *const *values) {
  for (size_t i = 0; values[i] != NULL; i++)
    if (strcmp(s, values[i]) == 0)
      return true;
  return false;
}

/* YYYY-MM-DD naming a real day. */
static bool date_valid(const char *s) {
  int y, m, d;
  char tail;
  if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
      s[7] != '-')
    return false;
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
    return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

/* RFC 3339 date-time with a Z or a numeric offset, optional fraction. */
static bool datetime_valid(const char *s) {
  static regex_t re;
  static bool compiled;
  if (!compiled) {
    /* Compiled once, at start-up: validate_format_init() runs before threads start. */
    regcomp(&re,
            "^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
            "(\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
            REG_EXTENDED | REG_NOSUB);
    compiled = true;
  }
  char day[11];
  if (strlen(s) < 20)
    return false;
  memcpy(day, s, 10);
  day[10] = '\0';
  return date_valid(day) && regexec(&re, s, 0, NULL, 0) == 0;
}

/* RFC 3986 characters of the parts of a URL (after the authority), less the quote ', which
 * would end an HTML attribute as surely as a ": a URL that needs it percent-encodes it. */
static bool url_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         strchr("-._~!$&()*+,;=:@/?", c) != NULL;
}

static bool hex_digit(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* An absolute http or https URL (RFC 3986): a host (a name, an IPv4 address or an IPv6
 * literal in brackets) and an optional port, then a path, query and fragment of URI
 * characters, "%" always with two hex digits. No user information (a "user@" before the
 * host only disguises where a link leads), no spaces, quotes, angle brackets, backslashes,
 * control or non-ASCII characters: a value shown as a link cannot break out of it. */
static bool url_valid(const char *s) {
  size_t scheme = strncasecmp(s, "https://", 8) == 0  ? 8
                  : strncasecmp(s, "http://", 7) == 0 ? 7
                                                      : 0;
  if (scheme == 0)
    return false;
  const char *p = s + scheme;
  if (*p == '[') { /* IPv6 literal */
    const char *close = strchr(p, ']');
    if (close == NULL || close == p + 1)
      return false;
    for (const char *q = p + 1; q < close; q++)
      if (!hex_digit((unsigned char)*q) && *q != ':' && *q != '.')
        return false;
    p = close + 1;
  } else {
    const char *host = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '-' || *p == '.' || *p == '_' || *p == '~')
      p++;
    if (p == host)
      return false;
  }
  if (*p == ':') { /* port */
    const char *digits = ++p;
    while (*p >= '0' && *p <= '9')
      p++;
    if (p == digits || p - digits > 5 || atol(digits) > 65535)
      return false;
  }
  if (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
    return false;
  bool fragment = false;
  for (; *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '%') {
      if (!hex_digit((unsigned char)p[1]) || !hex_digit((unsigned char)p[2]))
        return false;
      p += 2;
    } else if (c == '#' && !fragment) {
      fragment = true;
    } else if (!url_char(c)) {
      return false;
    }
  }
  return true;
}

static bool email_valid(const char *s) {
  const char *at = strchr(s, '@');
  if (at == NULL || at == s || strchr(at + 1, '@') != NULL || strlen(s) > 254)
    return false;
  const char *dot = strrchr(at, '.');
  if (dot == NULL || dot == at + 1 || dot[1] == '\0')
    return false;
  for (const char *p = s; *p; p++)
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      return false;
  return true;
}

bool qvalue_valid(enum qtype t, const char *v) {
  switch (t) {
  case Q_UUID:
    return uuid_valid(v);
  case Q_BOOL:
    return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
  case Q_INT: {
    char *end;
    long n = strtol(v, &end, 10);
    return *v != '\0' && *end == '\0' && n >= 0 && n < 1000000000L;
  }
  case Q_DATE:
    return date_valid(v);
  case Q_DATETIME:
    return datetime_valid(v);
  default:
    return true;
  }
}

void validate_format_init(void) {
  (void)datetime_valid("2000-01-01T00:00:00Z");
}

static void range_text(long min, long max, char *out, size_t cap) {
  snprintf(out, cap, "%ld..%ld", min, max);
}

static int check_string(struct req *r, const char *s, const struct field *f, const char *ptr) {
  char buf[64];
  size_t len = strlen(s);
  /* Length counts characters, not bytes. */
  size_t chars = 0;
  for (size_t i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      chars++;
  if (f->min > 0 && chars < (size_t)f->min) {
    snprintf(buf, sizeof buf, "%ld", f->min);
    req_field_error(r, ptr, "too_short", buf);
    return 1;
  }
  if (f->max > 0 && chars > (size_t)f->max) {
    snprintf(buf, sizeof buf, "%ld", f->max);
    req_field_error(r, ptr, "too_long", buf);
    return 1;
  }
  return 0;
}

static int type_error(struct req *r, const char *ptr, enum phrase_id what) {
  req_field_must_be(r, ptr, "invalid_type", what);
  return 1;
}

static int format_error(struct req *r, const char *ptr, enum phrase_id what) {
  req_field_must_be(r, ptr, "invalid_format", what);
  return 1;
}

int validate_value(struct req *r, const json_t *v, const struct field *f, const char *ptr,
                   enum body_kind kind) {
  char buf[512];
  if (json_is_null(v)) {
    if (f->flags & F_NULLABLE)
      return 0;
    req_field_error(r, ptr, "not_null", NULL);
    return 1;
  }
  switch (f->type) {
  case F_STRING:
  case F_EMAIL:
  case F_UUID:
  case F_DATE:
  case F_DATETIME:
  case F_ENUM:
  case F_URL: {
    if (!json_is_string(v))
      return type_error(r, ptr, PH_STRING);
    const char *s = json_string_value(v);
    if (f->type == F_EMAIL && !email_valid(s))
      return format_error(r, ptr, PH_EMAIL);
    if (f->type == F_UUID && !uuid_valid(s))
      return format_error(r, ptr, PH_UUID);
    if (f->type == F_DATE && !date_valid(s))
      return format_error(r, ptr, PH_DATE);
    if (f->type == F_DATETIME && !datetime_valid(s))
      return format_error(r, ptr, PH_DATETIME);
    if (f->type == F_URL && !url_valid(s))
      return format_error(r, ptr, PH_URL);
    if (f->type == F_ENUM && !in_values(s, f->values)) {
      join_values(f->values, buf, sizeof buf);
      req_field_error(r, ptr, "invalid_enum", buf);
      return 1;
    }
    return check_string(r, s, f, ptr);
  }
  case F_BOOL:
    return json_is_boolean(v) ? 0 : type_error(r, ptr, PH_BOOL);
  case F_INT:
  case F_NUMBER: {
    if (f->type == F_INT ? !json_is_integer(v) : !json_is_number(v))
      return type_error(r, ptr, f->type == F_INT ? PH_INTEGER : PH_NUMBER);
    double n = json_number_value(v);
    if ((f->min != 0 || f->max != 0) && (n < (double)f->min || n > (double)f->max)) {
      range_text(f->min, f->max, buf, sizeof buf);
      req_field_error(r, ptr, "out_of_range", buf);
      return 1;
    }
    return 0;
  }
  case F_BILINGUAL: {
    static const struct field TEXT[] = {{"es", F_STRING, F_REQUIRED, 1, 4000, NULL, NULL},
                                        {"en", F_STRING, F_NULLABLE, 1, 4000, NULL, NULL},
                                        {NULL, 0, 0, 0, 0, NULL, NULL}};
    if (!json_is_object(v))
      return type_error(r, ptr, PH_BILINGUAL);
    struct field sub = *f;
    sub.type = F_OBJECT;
    sub.sub = TEXT;
    return validate_value(r, v, &sub, ptr, kind);
  }
  case F_STRING_ARRAY: {
    if (!json_is_array(v))
      return type_error(r, ptr, PH_STRINGS);
    int errs = 0;
    size_t i;
    const json_t *item;
    if (f->max > 0 && json_array_size(v) > (size_t)f->max) {
      range_text(f->min, f->max, buf, sizeof buf);
      req_field_error(r, ptr, "out_of_range", buf);
      return 1;
    }
    json_array_foreach(v, i, item) {
      snprintf(buf, sizeof buf, "%s/%zu", ptr, i);
      if (!json_is_string(item)) {
        errs += type_error(r, buf, PH_STRING);
      } else if (f->values != NULL && !in_values(json_string_value(item), f->values)) {
        char values[256];
        join_values(f->values, values, sizeof values);
        req_field_error(r, buf, "invalid_enum", values);
        errs++;
      } else if (json_string_length(item) == 0 || json_string_length(item) > 200) {
        req_field_error(r, buf, "too_long", "200");
        errs++;
      }
    }
    return errs;
  }
  case F_OBJECT: {
    if (!json_is_object(v))
      return type_error(r, ptr, PH_OBJECT);
    int errs = 0;
    const char *key;
    const json_t *item;
    json_object_foreach((json_t *)v, key, item) {
      const struct field *sf = f->sub;
      while (sf->name != NULL && strcmp(sf->name, key) != 0)
        sf++;
      snprintf(buf, sizeof buf, "%s/%s", ptr, key);
      if (sf->name == NULL) {
        req_field_error(r, buf, "unknown_field", NULL);
        errs++;
      } else if ((sf->flags & F_READ_ONLY) || (kind == BODY_PATCH && (sf->flags & F_FIXED))) {
        req_field_error(r, buf, "read_only", NULL);
        errs++;
      } else {
        errs += validate_value(r, item, sf, buf, kind);
      }
    }
    /* In a merge patch an absent member is kept: nothing is required. */
    for (const struct field *sf = f->sub; kind == BODY_NEW && sf->name != NULL; sf++)
      if ((sf->flags & F_REQUIRED) && json_object_get(v, sf->name) == NULL) {
        snprintf(buf, sizeof buf, "%s/%s", ptr, sf->name);
        req_field_error(r, buf, "required", NULL);
        errs++;
      }
    return errs;
  }
  case F_ARRAY_OF: {
    if (!json_is_array(v))
      return type_error(r, ptr, PH_OBJECTS);
    if (f->max > 0 && json_array_size(v) > (size_t)f->max) {
      range_text(f->min, f->max, buf, sizeof buf);
      req_field_error(r, ptr, "out_of_range", buf);
      return 1;
    }
    /* A merge patch replaces an array whole: its items are new values. */
    struct field sub = *f;
    sub.type = F_OBJECT;
    int errs = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
      snprintf(buf, sizeof buf, "%s/%zu", ptr, i);
      errs += validate_value(r, item, &sub, buf, BODY_NEW);
    }
    return errs;
  }
  case F_JSON:
    return json_is_object(v) ? 0 : type_error(r, ptr, PH_OBJECT);
  }
  return 0;
}

int validate_body(struct req *r, const json_t *body, const struct field *fields,
                  enum body_kind kind) {
  if (kind == BODY_PATCH && json_object_size(body) == 0) {
    req_field_error(r, "", "empty", NULL);
    return 1;
  }
  struct field top = {"", F_OBJECT, 0, 0, 0, NULL, fields};
  return validate_value(r, body, &top, "", kind);
}

void json_drop_erroneous(json_t *doc, const json_t *errors) {
  size_t i;
  const json_t *e;
  json_array_foreach(errors, i, e) {
    const char *field = json_string_value(json_object_get(e, "field"));
    if (field == NULL || field[0] != '/')
      continue;
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)strcspn(field + 1, "/"), field + 1);
    json_object_del(doc, key);
  }
}
