print("modelhost")
