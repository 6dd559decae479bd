# raftctl web: HTTP checks (token, 4xx, 127.0.0.1 only) and the page in
# headless chromium (skipped, 77, where chromium cannot run).
add_test(NAME proc_web_http
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/web/test_web_http.sh
          $<TARGET_FILE:raftctl>)
add_test(NAME proc_web_page
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/web/test_web_page.sh
          $<TARGET_FILE:raftctl>)
set_tests_properties(proc_web_http proc_web_page PROPERTIES LABELS proc
  TIMEOUT 150 SKIP_RETURN_CODE 77 ENVIRONMENT "${RAFT_PROC_ENV}")
