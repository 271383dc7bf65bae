"""Deliveries of the published (checked) serving marts to outside systems: DHIS2 aggregate data values."""
