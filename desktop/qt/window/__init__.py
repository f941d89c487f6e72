"""The main window and what it is made of: menus, message bar, status bar, drag and drop, the open images
and their strip."""
