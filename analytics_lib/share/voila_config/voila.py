# Voilà configuration of the workbench's dashboard server (analytics_lib.serve passes this folder
# as --Voila.config_file_paths; a user's own voila.py/json is not read by that server).
from analytics_lib.serve import give_page_its_xsrf_cookie

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
c.VoilaConfiguration.prelaunch_hook = give_page_its_xsrf_cookie
