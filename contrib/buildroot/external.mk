include $(sort $(wildcard $(BR2_EXTERNAL_VIGILD_PATH)/vigild/*.mk))
