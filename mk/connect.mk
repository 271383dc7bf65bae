# Connect a survey server (issue 13): list its forms and add the chosen ones to sources.yaml.
#   make connect KIND=kobo URL=https://kf.kobotoolbox.org            # pick forms interactively
#   make connect KIND=odk URL=https://central.example.org CONNECT_ARGS="--project-id 3 --all"
.PHONY: connect
KIND ?=
URL ?=
CONNECT_ARGS ?=

connect: setup
	@test -n "$(KIND)" -a -n "$(URL)" || { echo "usage: make connect KIND=kobo|odk URL=https://... [CONNECT_ARGS=\"--all\"]" >&2; exit 2; }
	$(BIN)/python -m sangam connect $(KIND) --url "$(URL)" $(CONNECT_ARGS)
