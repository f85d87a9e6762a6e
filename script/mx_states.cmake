# Writes the migration that loads Mexico's 32 federal entities (ISO 3166-2:MX) from Debian's
# iso-codes package, so the list is never typed by hand.
# Usage: cmake -DISO=/usr/share/iso-codes/json/iso_3166-2.json -DOUT=<file.sql> -P mx_states.cmake
file(READ "${ISO}" json)
string(REGEX MATCHALL "\"code\": \"MX-[A-Z]+\",[ \t\r\n]+\"name\": \"[^\"]+\",[ \t\r\n]+\"type\": \"[^\"]+\"" entries "${json}")
list(LENGTH entries count)
if(NOT count EQUAL 32)
  message(FATAL_ERROR "expected 32 Mexican entities in ${ISO}, found ${count}")
endif()
set(values "")
foreach(e ${entries})
  string(REGEX REPLACE ".*\"code\": \"(MX-[A-Z]+)\".*\"name\": \"([^\"]+)\".*\"type\": \"([^\"]+)\".*" "('\\1', '\\2', '\\3')" row "${e}")
  if(values)
    string(APPEND values ",\n  ")
  endif()
  string(APPEND values "${row}")
endforeach()
file(WRITE "${OUT}.tmp" "-- 0002_mx_states: generated at build time from Debian's iso-codes (${ISO}).
CREATE TABLE mx_states (
  code text PRIMARY KEY CHECK (code ~ '^MX-[A-Z]{3}$'),
  name text NOT NULL,
  kind text NOT NULL
);
INSERT INTO mx_states (code, name, kind) VALUES
  ${values};
")
file(RENAME "${OUT}.tmp" "${OUT}")
